"""Apply: a plain executor that makes the plan true — it walks the plan's waves, runs one small action per
operation kind (create/update StackSet, create/update/delete instances) under one waiter and one retry policy,
journals every operation so a killed run resumes, and gates each wave on Clumio showing the accounts connected."""
