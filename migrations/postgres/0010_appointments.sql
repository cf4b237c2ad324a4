-- appointments, visits and queues: clinics and their booking kind, clinicians' weekly hours and
-- days off, holidays an administrator declares (Idd, gazetted days), bookings (a time slot with a
-- clinician, or a clinic day with a daily capacity), visits with the day's token number, and the
-- queue entries that move a visit between service points. The outbox gets a channel, so an SMS
-- gateway can be added beside email.

ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';

CREATE TABLE clinics (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    booking TEXT NOT NULL,
    slot_minutes BIGINT NOT NULL DEFAULT 15,
    daily_capacity BIGINT NOT NULL DEFAULT 0,
    opens_on_holidays BIGINT NOT NULL DEFAULT 0,
    is_active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

-- The weekdays a clinic-day clinic runs (1 = Monday ... 7 = Sunday): MCH on Tuesday and Thursday.
CREATE TABLE clinic_weekdays (
    clinic_id BIGINT NOT NULL REFERENCES clinics(id),
    weekday BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, weekday)
);

CREATE TABLE working_hours (
    id BIGSERIAL PRIMARY KEY,
    clinic_id BIGINT NOT NULL REFERENCES clinics(id),
    clinician_id BIGINT NOT NULL REFERENCES users(id),
    weekday BIGINT NOT NULL,
    start_minute BIGINT NOT NULL,
    end_minute BIGINT NOT NULL,
    break_start BIGINT,
    break_end BIGINT
);
CREATE INDEX working_hours_clinician ON working_hours (clinician_id, weekday);
CREATE INDEX working_hours_clinic ON working_hours (clinic_id, weekday);

CREATE TABLE days_off (
    clinician_id BIGINT NOT NULL REFERENCES users(id),
    day TEXT COLLATE "C" NOT NULL,
    reason TEXT,
    PRIMARY KEY (clinician_id, day)
);

CREATE TABLE declared_holidays (
    day TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_by BIGINT,
    created_at TEXT NOT NULL
);

CREATE TABLE appointments (
    id BIGSERIAL PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    clinic_id BIGINT NOT NULL REFERENCES clinics(id),
    clinician_id BIGINT REFERENCES users(id),
    day TEXT COLLATE "C" NOT NULL,
    start_minute BIGINT,
    status TEXT NOT NULL,
    reason TEXT,
    cancel_reason TEXT,
    rescheduled_from BIGINT REFERENCES appointments(id),
    reminder_queued_at TEXT,
    created_by BIGINT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- No double-booking: one active booking per clinician and slot; a cancelled slot is free again.
CREATE UNIQUE INDEX appointments_one_per_slot ON appointments (clinician_id, day, start_minute)
    WHERE status IN ('booked', 'arrived') AND start_minute IS NOT NULL;
CREATE INDEX appointments_day ON appointments (day, clinic_id, status);
CREATE INDEX appointments_patient ON appointments (patient_id, day);

-- Bookings taken per clinic day, raised with a guarded update that stops at the capacity.
CREATE TABLE clinic_day_bookings (
    clinic_id BIGINT NOT NULL REFERENCES clinics(id),
    day TEXT COLLATE "C" NOT NULL,
    booked BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, day)
);

CREATE TABLE service_points (
    id BIGSERIAL PRIMARY KEY,
    code TEXT COLLATE "C" NOT NULL UNIQUE,
    name TEXT NOT NULL,
    room TEXT,
    display_key_hash TEXT COLLATE "C" UNIQUE,
    sort_order BIGINT NOT NULL DEFAULT 0,
    is_active BIGINT NOT NULL DEFAULT 1
);
INSERT INTO service_points (code, name, room, sort_order) VALUES
    ('triage', 'Triage', 'Triage room', 10),
    ('consultation', 'Consultation', 'Consultation room', 20),
    ('laboratory', 'Laboratory', 'Laboratory', 30),
    ('pharmacy', 'Pharmacy', 'Pharmacy', 40),
    ('cashier', 'Cashier', 'Cashier', 50);

CREATE TABLE visits (
    id BIGSERIAL PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    appointment_id BIGINT UNIQUE REFERENCES appointments(id),
    day TEXT COLLATE "C" NOT NULL,
    token BIGINT NOT NULL,
    payer TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_in_by BIGINT,
    checked_in_at TEXT NOT NULL,
    closed_at TEXT,
    UNIQUE (day, token)
);
CREATE INDEX visits_patient ON visits (patient_id, day);
CREATE INDEX visits_day ON visits (day, status);

CREATE TABLE visit_tokens (
    day TEXT COLLATE "C" PRIMARY KEY,
    next_token BIGINT NOT NULL
);

CREATE TABLE queue_entries (
    id BIGSERIAL PRIMARY KEY,
    visit_id BIGINT NOT NULL REFERENCES visits(id),
    service_point_id BIGINT NOT NULL REFERENCES service_points(id),
    state TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    priority_reason TEXT,
    enqueued_at TEXT NOT NULL,
    enqueued_by BIGINT,
    called_at TEXT,
    called_by BIGINT,
    done_at TEXT,
    done_by BIGINT
);
CREATE INDEX queue_entries_point ON queue_entries (service_point_id, state, priority, enqueued_at);
CREATE INDEX queue_entries_visit ON queue_entries (visit_id);
