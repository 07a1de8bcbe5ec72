"""The AWS providers: Organizations, CloudFormation StackSets, S3 and STS through boto3, with one session and retry
configuration and a lighter parser for ListStackInstances pages."""
