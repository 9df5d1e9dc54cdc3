"""`python -m infra deploy`: the one supported way to deploy an environment.

Credentials first (no AWS call), then the guard against what is deployed (the `deployed/<env>`
git tag), then `cdk deploy` of exactly the assembly the guard checked, then the tag moves.
"""
