"""MM-Rec: multimodal news recommendation (Wu et al., SIGIR 2021), on MIND-format data.

The data layer reads and writes the MIND file format (:mod:`.mind`), renders a news world whose
images show declared visual concepts (:mod:`.render`), simulates users who like categories or
visual concepts and click accordingly (:mod:`.world`), and turns a MIND-format folder — generated,
or real MIND with one image per news item — into the tensors the model reads (:mod:`.features`).
"""
