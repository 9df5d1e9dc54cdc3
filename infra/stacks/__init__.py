"""One module per stack of an environment (`twenty-<env>-<part>`)."""
