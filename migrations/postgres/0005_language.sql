-- language: each user's choice of language (NULL: the facility's default).
ALTER TABLE users ADD COLUMN language TEXT;
