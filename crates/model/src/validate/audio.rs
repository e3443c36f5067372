//! Rules for audio selectors (`input.audio_selectors`) and audio outputs
//! (`encoder_settings_expand.audio_descriptions`).

use std::collections::HashMap;

use super::{check_language_code, is_name, Problems};
use crate::audio::InputAudioSelector;
use crate::channel::ChannelConfig;
use crate::limits::{MAX_AUDIO_SELECTORS, MAX_PID};

const NAME_CHARSET: &str = "must be non-empty letters, digits, '-' and '_'";

pub(super) fn check_selectors(problems: &mut Problems, selectors: &[InputAudioSelector]) {
    if selectors.len() > MAX_AUDIO_SELECTORS {
        problems.push(
            "input.audio_selectors",
            format!(
                "must have at most {MAX_AUDIO_SELECTORS} entries, got {}",
                selectors.len()
            ),
        );
    }
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (i, selector) in selectors.iter().enumerate() {
        let path = format!("input.audio_selectors[{i}]");
        check_unique_name(
            problems,
            &mut first_use,
            &format!("{path}.name"),
            "input.audio_selectors",
            i,
            &selector.name,
        );
        let Some(settings) = &selector.selector_settings else {
            continue;
        };
        if let Some(lang) = &settings.audio_language_selection {
            check_language_code(
                problems,
                format!("{path}.selector_settings.audio_language_selection.language_code"),
                &lang.language_code,
            );
        }
        if let Some(pid) = &settings.audio_pid_selection {
            problems.range(
                format!("{path}.selector_settings.audio_pid_selection.pid"),
                pid.pid,
                0..=MAX_PID,
            );
        }
    }
}

pub(super) fn check_descriptions(problems: &mut Problems, channel: &ChannelConfig) {
    let Some(expand) = &channel.encoder_settings_expand else {
        return;
    };
    let selectors = channel.input.audio_selector_list();
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (i, description) in expand.audio_descriptions.iter().flatten().enumerate() {
        let path = format!("encoder_settings_expand.audio_descriptions[{i}]");
        check_unique_name(
            problems,
            &mut first_use,
            &format!("{path}.name"),
            "encoder_settings_expand.audio_descriptions",
            i,
            &description.name,
        );
        let selector = &description.audio_selector_name;
        if !selectors.iter().any(|s| &s.name == selector) {
            problems.push(
                format!("{path}.audio_selector_name"),
                format!("names no selector in input.audio_selectors, got {selector:?}"),
            );
        }
        if let Some(code) = &description.language_code {
            check_language_code(problems, format!("{path}.language_code"), code);
        }
    }
}

fn check_unique_name<'a>(
    problems: &mut Problems,
    first_use: &mut HashMap<&'a str, usize>,
    path: &str,
    list: &str,
    index: usize,
    name: &'a str,
) {
    if !is_name(name) {
        problems.push(path, format!("{NAME_CHARSET}, got {name:?}"));
    }
    match first_use.get(name) {
        Some(first) => problems.push(
            path,
            format!("duplicates {list}[{first}].name {name:?}; names must be unique"),
        ),
        None => {
            first_use.insert(name, index);
        }
    }
}
