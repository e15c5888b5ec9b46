"""``cdp run``: the main job of a project (``cdp.yaml``) in one command, with an HTML report."""
