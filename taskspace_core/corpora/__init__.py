"""The data layer: minimal pairs and the pretraining text (no model here).

    pairs   the minimal-pair types every benchmark loads into, their hash, pair-level splits
    blimp   BLiMP's 67 paradigm files, validated on load, and its phenomenon taxonomy
    books   the children's-book corpus: Gutenberg boilerplate stripped, byte-level BPE tokenizer
"""
