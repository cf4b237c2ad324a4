-- consultations, orders: a procedure done in the room gets its charge's id once, in the
-- transaction that records it (the charge's reference names the procedure's id, so the row is
-- written first). Every other change, and a second link, stays refused.
DROP TRIGGER encounter_procedures_no_update;
CREATE TRIGGER encounter_procedures_no_update BEFORE UPDATE ON encounter_procedures
WHEN OLD.uuid IS NOT NULL AND NOT (
    OLD.charge_id IS NULL AND NEW.charge_id IS NOT NULL
    AND NEW.id = OLD.id AND NEW.uuid = OLD.uuid AND NEW.facility_id = OLD.facility_id
    AND NEW.encounter_id = OLD.encounter_id AND NEW.patient_id = OLD.patient_id
    AND NEW.visit_id = OLD.visit_id AND NEW.visit_day = OLD.visit_day AND NEW.code = OLD.code
    AND NEW.name = OLD.name AND NEW.done_by IS OLD.done_by AND NEW.done_at = OLD.done_at
) BEGIN
    SELECT RAISE(ABORT, 'procedures done never change');
END;
