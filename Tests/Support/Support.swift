// Test support: golden-vector loader and plain-loop references.
