"""clumio-org: onboard an AWS Organization to Clumio through one CloudFormation StackSet, declaratively."""

__version__ = "0.1.0"
