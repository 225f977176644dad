"""Where finished segments go: the sink interface and its implementations."""
