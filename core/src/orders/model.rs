//! The words of an order: its priority, its state and how an outcome reads.

use serde::{Deserialize, Serialize};

/// How soon the placer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Routine,
    Urgent,
    Stat,
}

impl Priority {
    pub fn code(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Urgent => "urgent",
            Priority::Stat => "stat",
        }
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Placed,
    InProgress,
    Completed,
    /// Part done, the rest closed by the filler with a reason.
    PartlyDone,
    Cancelled,
    NotDone,
    Discontinued,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Placed,
        State::InProgress,
        State::Completed,
        State::PartlyDone,
        State::Cancelled,
        State::NotDone,
        State::Discontinued,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Placed => "placed",
            State::InProgress => "in_progress",
            State::Completed => "completed",
            State::PartlyDone => "partly_done",
            State::Cancelled => "cancelled",
            State::NotDone => "not_done",
            State::Discontinued => "discontinued",
        }
    }

    pub fn parse(code: &str) -> Option<State> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// How a result reads: a critical one raises an alert for the placer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Normal,
    Abnormal,
    Critical,
}

impl Flag {
    pub fn code(self) -> &'static str {
        match self {
            Flag::Normal => "normal",
            Flag::Abnormal => "abnormal",
            Flag::Critical => "critical",
        }
    }

    pub fn parse(code: &str) -> Option<Flag> {
        [Flag::Normal, Flag::Abnormal, Flag::Critical]
            .into_iter()
            .find(|f| f.code() == code)
    }
}

/// What the filler found or did, in a line, and how it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub summary: String,
    pub flag: Flag,
}
