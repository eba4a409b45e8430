"""Floor 7, reporting: the claims engine (`claim_text`, `claims_render`, `claims_file`, `claims`, `forest`), figures
(`palette`, `plotting`, `arms`, `figures`, `figure_index`), and what reads the claims files (`status`, `power`,
`reproduced`)."""
