"""One module per notebook: its parameter check and the steps its cells call, so a notebook reads as
the story of its experiment (parameters, a few calls, tables and plots)."""
