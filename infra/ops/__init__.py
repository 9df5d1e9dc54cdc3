"""Day-2 operations against a real (or moto) AWS account: preflight, pin-ami, verify.

Every AWS call goes through boto3, so `AWS_ENDPOINT_URL` (or a per-service
`AWS_ENDPOINT_URL_<SERVICE>`) points the commands at another endpoint, e.g. a `moto_server`.
Nothing here imports the CDK: the commands start in a second, not in a synth's time.
"""
