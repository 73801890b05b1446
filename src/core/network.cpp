namespace tmlp {}
