"""Built-in supervisors: the weak side of a run (who labels the unlabeled split)."""
