"""Results on disk: what a task space is stored under, the run store, and committed results.

    keys    a space's key, its directory's name, its test pairs' order, and the job names
    store   the run store: content-addressed, atomic, hash-checked, one worker per job
    read    reading a space (committed, else the run store) without computing one: Reader
    export  a run store's spaces and checkpoint records into committed results, with their index
"""
