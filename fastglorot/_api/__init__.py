"""The machinery of the public functions: arguments, buffers, samplers, variance scaling, registry."""
