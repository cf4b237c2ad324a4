-- consultations, orders: a procedure done in the room gets its charge's id once, in the
-- transaction that records it (the charge's reference names the procedure's id, so the row is
-- written first). Every other change, and a second link, stays refused.
DROP TRIGGER encounter_procedures_no_update ON encounter_procedures;
CREATE TRIGGER encounter_procedures_no_delete BEFORE DELETE ON encounter_procedures
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('procedures done are never deleted');
CREATE TRIGGER encounter_procedures_no_update BEFORE UPDATE ON encounter_procedures
FOR EACH ROW WHEN (NOT (
    OLD.charge_id IS NULL AND NEW.charge_id IS NOT NULL
    AND (NEW.id, NEW.uuid, NEW.facility_id, NEW.encounter_id, NEW.patient_id, NEW.visit_id,
         NEW.visit_day, NEW.code, NEW.name, NEW.done_by, NEW.done_at)
        IS NOT DISTINCT FROM
        (OLD.id, OLD.uuid, OLD.facility_id, OLD.encounter_id, OLD.patient_id, OLD.visit_id,
         OLD.visit_day, OLD.code, OLD.name, OLD.done_by, OLD.done_at)
))
EXECUTE FUNCTION consultations_refuse('procedures done never change');
