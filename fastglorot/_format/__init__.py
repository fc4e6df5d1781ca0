"""What the bits are: the stream format's tables, Philox, its element functions and parameters, engine-free."""
