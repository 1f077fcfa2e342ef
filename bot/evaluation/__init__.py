"""Offline evaluation of the pipeline: routing quality on labelled messages, and replay of
stored conversations against what agents actually sent. Nothing here sends or stores."""
