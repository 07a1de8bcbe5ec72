"""Providers: the edge where the ports meet the real services (boto3 for AWS, urllib3 for Clumio); every fact a
response carries is converted to core's typed models here, once."""
