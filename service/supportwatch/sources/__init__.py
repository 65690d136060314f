"""Release sources: each turns what a vendor publishes into ``Release`` values."""
