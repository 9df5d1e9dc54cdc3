"""twenty-estate: the AWS estates of the Twenty CRM, as a Python CDK app."""
