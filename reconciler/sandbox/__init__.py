"""The embedded sandbox: an emulated AWS Organization, CloudFormation StackSets, S3 and Clumio served over HTTP, so
the product runs unchanged against it (it is reached only over the wire; the product never imports it)."""
