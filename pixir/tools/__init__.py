"""The tools the model may call: read, write, edit, bash, update_plan."""
