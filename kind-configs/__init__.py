"""The kind configs (*.yaml), installed as package data of harness: harness.kind_configs."""
