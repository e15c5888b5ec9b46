"""Identity resolution: identifier configuration, extraction, the graph, the pipeline, show and explain."""
