"""The language models: what they are, what identifies them, and pretraining them.

    models      size registry -> Llama config; load any Hugging Face causal LM
    precision   fp32 / bf16 / auto: resolution, autocast, what keys record
    fused_loss  chunked output projection + cross-entropy (no full logits) for bf16 pretraining
    identity    what identifies a run and a checkpoint (pretraining hash, names, model identity)
    checkpoints find a checkpoint's record (run directory or committed copy) and verify its files
    pretrain    the training loop, checkpoint schedule and exact resume; a missing checkpoint trained
    shipped     a committed checkpoint's weights (where a preset ships them) installed instead of trained
"""
