"""Text to AST and back: the grammar, the parser and the printer."""
