//! Reading MPDs in tests: Periods, their AdaptationSets' templates and first times.

/// The value of attribute `name` in `attributes` (an element's text after its name).
pub fn attr(attributes: &str, name: &str) -> Option<String> {
    let attributes = format!(" {attributes}");
    let at = attributes.find(&format!(" {name}=\""))? + name.len() + 3;
    attributes[at..].split('"').next().map(str::to_string)
}

/// One Period of the MPD as this test reads it.
#[derive(Debug)]
pub struct Period {
    pub id: String,
    pub start: String,
    /// Per AdaptationSet (video, then audio): representation id, `initialization` template,
    /// `presentationTimeOffset`, and the first `S@t`.
    pub sets: Vec<(String, String, Option<u64>, u64)>,
}

pub fn periods(mpd: &str) -> Vec<Period> {
    mpd.split("<Period ")
        .skip(1)
        .map(|p| {
            let head = p.split('>').next().unwrap();
            let sets = p
                .split("<AdaptationSet ")
                .skip(1)
                .map(|set| {
                    let template = set.split("<SegmentTemplate ").nth(1).unwrap();
                    let template = template.split('>').next().unwrap();
                    let first_s = set.split("<S ").nth(1).unwrap();
                    let rep = set.split("<Representation ").nth(1).unwrap();
                    (
                        attr(rep, "id").unwrap(),
                        attr(template, "initialization").unwrap(),
                        attr(template, "presentationTimeOffset").map(|v| v.parse().unwrap()),
                        attr(first_s, "t").unwrap().parse().unwrap(),
                    )
                })
                .collect();
            Period {
                id: attr(head, "id").unwrap(),
                start: attr(head, "start").unwrap(),
                sets,
            }
        })
        .collect()
}
