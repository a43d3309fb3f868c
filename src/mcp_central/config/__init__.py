"""Configuration: the model every layer reads, and loading/validating files into it."""
