"""One screen per file: dashboard → integration → execution → item, plus help and dialogs."""
