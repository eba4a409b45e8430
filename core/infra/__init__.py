"""Floor 1, infrastructure: paths and atomic JSON writes (`io`), result-path rules (`paths`), manifests (`machine`,
`provenance`), reading runs (`results`), one-file studies (`study`), per-example outputs (`item_outputs`). Imports
nothing else of `core`."""
