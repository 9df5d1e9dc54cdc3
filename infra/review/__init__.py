"""Reviewers' diff: what a change does to each environment's templates and manifests, offline."""
