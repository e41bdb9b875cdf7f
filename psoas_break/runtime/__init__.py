"""The engine thread and its glue: the loop, the presenter, quiet and driving control."""
