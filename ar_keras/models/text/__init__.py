"""Text models: ByteNet."""
