"""Floor 4, training: typed configs with each method's settings mounted under its key (`settings`, `config`,
`checks`, `experiment_file`), the method registry (`methods`), samplers and optimizers (`sampling`, `optimizers`),
Trainer callbacks (`callbacks`, `metric_callbacks`, `divergence`, `checkpoints`), zeroth-order SPSA (`zo`, `zo_stream`,
`zo_dp`, `zo_replay`, `trainers`), multi-process (`ddp`, `dtensor`, `fsdp`), run folders (`run`) and the one
Trainer recipe (`finetune`)."""
