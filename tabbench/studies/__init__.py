"""The studies: the HTML report, the split study, learning curves by training size, top-k feature selection, surrogate explanations and novel class discovery."""
