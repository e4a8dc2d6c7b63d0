"""The App's outputs that are not hardware: frame capture, the text log, simulate's timeline."""
