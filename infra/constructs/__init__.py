"""Our own L3 building blocks, composed by the stacks in `infra.stacks`."""
