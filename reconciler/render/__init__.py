"""Render: plans, drift reports and state as text, markdown (PR comments) and JSON — formatting only, no reads."""
