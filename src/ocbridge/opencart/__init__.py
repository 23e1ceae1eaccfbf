"""The shop side: OpenCart schema per version, reads, polls, history writes, native API, phone index."""
