"""mqbench: reproducible evaluation of Milvus message queues (see README.md for the module map)."""

__version__ = "0.1.0"
