-- consultations: a document's first print is its original; every later print is a copy. One
-- original per document, whatever prints run at once (the second one in becomes a copy).
CREATE UNIQUE INDEX consultation_document_prints_original
    ON consultation_document_prints (document_id) WHERE copy = 0;
