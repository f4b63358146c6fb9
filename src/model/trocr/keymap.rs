//! The key map between a `transformers` checkpoint and the Burn module tree: one table of
//! name prefixes, read forwards (checkpoint → module path, a `burn::store` [`KeyRemapper`])
//! to load, and backwards (module path → checkpoint name) so errors name the tensor as it is
//! called in the file. `{i}` stands for a layer index.
//! docs/hf.md writes the same map out for readers.

use burn::store::KeyRemapper;
use std::sync::LazyLock;

/// (checkpoint name, module path); an entry ending in `.` renames a prefix, any other entry
/// one whole name.
const KEY_MAP: &[(&str, &str)] = &[
    (
        "encoder.embeddings.patch_embeddings.projection.",
        "encoder.patch.",
    ),
    ("encoder.embeddings.cls_token", "encoder.cls_token"),
    (
        "encoder.embeddings.distillation_token",
        "encoder.dist_token",
    ),
    (
        "encoder.embeddings.position_embeddings",
        "encoder.positions",
    ),
    (
        "encoder.encoder.layer.{i}.attention.attention.query.",
        "encoder.layers.{i}.attn.query.",
    ),
    (
        "encoder.encoder.layer.{i}.attention.attention.key.",
        "encoder.layers.{i}.attn.key.",
    ),
    (
        "encoder.encoder.layer.{i}.attention.attention.value.",
        "encoder.layers.{i}.attn.value.",
    ),
    (
        "encoder.encoder.layer.{i}.attention.output.dense.",
        "encoder.layers.{i}.attn.output.",
    ),
    (
        "encoder.encoder.layer.{i}.intermediate.dense.",
        "encoder.layers.{i}.mlp.fc1.",
    ),
    (
        "encoder.encoder.layer.{i}.output.dense.",
        "encoder.layers.{i}.mlp.fc2.",
    ),
    ("enc_to_dec_proj.", "enc_to_dec."),
    (
        "decoder.model.decoder.embed_tokens.weight",
        "decoder.embed_tokens",
    ),
    (
        "decoder.model.decoder.embed_positions.weight",
        "decoder.learned_positions",
    ),
    (
        "decoder.model.decoder.layers.{i}.self_attn.q_proj.",
        "decoder.layers.{i}.self_attn.query.",
    ),
    (
        "decoder.model.decoder.layers.{i}.self_attn.k_proj.",
        "decoder.layers.{i}.self_attn.key.",
    ),
    (
        "decoder.model.decoder.layers.{i}.self_attn.v_proj.",
        "decoder.layers.{i}.self_attn.value.",
    ),
    (
        "decoder.model.decoder.layers.{i}.self_attn.out_proj.",
        "decoder.layers.{i}.self_attn.output.",
    ),
    (
        "decoder.model.decoder.layers.{i}.encoder_attn.q_proj.",
        "decoder.layers.{i}.cross_attn.query.",
    ),
    (
        "decoder.model.decoder.layers.{i}.encoder_attn.k_proj.",
        "decoder.layers.{i}.cross_attn.key.",
    ),
    (
        "decoder.model.decoder.layers.{i}.encoder_attn.v_proj.",
        "decoder.layers.{i}.cross_attn.value.",
    ),
    (
        "decoder.model.decoder.layers.{i}.encoder_attn.out_proj.",
        "decoder.layers.{i}.cross_attn.output.",
    ),
    (
        "decoder.model.decoder.layers.{i}.fc1.",
        "decoder.layers.{i}.mlp.fc1.",
    ),
    (
        "decoder.model.decoder.layers.{i}.fc2.",
        "decoder.layers.{i}.mlp.fc2.",
    ),
];

/// (checkpoint prefix, module path) of the LayerNorms: PyTorch's `weight`/`bias` are
/// Burn's `gamma`/`beta`.
const LAYER_NORMS: &[(&str, &str)] = &[
    (
        "encoder.encoder.layer.{i}.layernorm_before",
        "encoder.layers.{i}.norm1",
    ),
    (
        "encoder.encoder.layer.{i}.layernorm_after",
        "encoder.layers.{i}.norm2",
    ),
    ("encoder.layernorm", "encoder.norm"),
    (
        "decoder.model.decoder.layernorm_embedding",
        "decoder.layernorm_embedding",
    ),
    (
        "decoder.model.decoder.layers.{i}.self_attn_layer_norm",
        "decoder.layers.{i}.self_norm",
    ),
    (
        "decoder.model.decoder.layers.{i}.encoder_attn_layer_norm",
        "decoder.layers.{i}.cross_norm",
    ),
    (
        "decoder.model.decoder.layers.{i}.final_layer_norm",
        "decoder.layers.{i}.final_norm",
    ),
];

/// The module path the untied output projection and the tied copy of the token embeddings
/// load into (the checkpoint name is the same).
pub const OUTPUT_PROJECTION: &str = "decoder.output_projection.weight";

/// `template` as an anchored regex: `{i}` matches a layer index, a trailing `.` makes it a
/// prefix, anything else must match the whole name.
fn pattern(template: &str) -> String {
    let body = regex_escape(template).replace("\\{i\\}", r"(\d+)");
    if template.ends_with('.') {
        format!("^{body}")
    } else {
        format!("^{body}$")
    }
}

/// The replacement text for `template` (`{i}` = the captured index).
fn replacement(template: &str) -> String {
    template.replace("{i}", "${1}")
}

/// Escapes the regex metacharacters that can occur in a tensor name template.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for ch in s.chars() {
        if matches!(
            ch,
            '.' | '{' | '}' | '(' | ')' | '[' | ']' | '*' | '+' | '?' | '^' | '$' | '|' | '\\'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// (checkpoint name, module path) templates: the key map, each LayerNorm as two whole
/// names.
fn rules() -> impl Iterator<Item = (String, String)> {
    let plain = KEY_MAP
        .iter()
        .map(|&(hf, m)| (hf.to_string(), m.to_string()));
    let norms = LAYER_NORMS.iter().flat_map(|&(hf, m)| {
        [
            (format!("{hf}.weight"), format!("{m}.gamma")),
            (format!("{hf}.bias"), format!("{m}.beta")),
        ]
    });
    plain.chain(norms)
}

fn remapper(forward: bool) -> KeyRemapper {
    let pairs = rules().map(|(hf, m)| {
        let (from, to) = if forward { (hf, m) } else { (m, hf) };
        (pattern(&from), replacement(&to))
    });
    KeyRemapper::from_pattern_iter(pairs).expect("the key map's patterns are valid regexes")
}

/// Checkpoint names → module paths.
pub fn to_module() -> KeyRemapper {
    remapper(true)
}

/// Module paths → checkpoint names, compiled once (errors may name every tensor).
static TO_CHECKPOINT: LazyLock<KeyRemapper> = LazyLock::new(|| remapper(false));

/// The checkpoint name of a module path; names outside the map are returned as they are.
pub fn to_checkpoint(module_path: &str) -> String {
    let mut name = module_path.to_string();
    for (re, to) in TO_CHECKPOINT.to_regex_pairs() {
        if re.is_match(&name) {
            name = re.replace_all(&name, to.as_str()).into_owned();
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(name: &str) -> String {
        let mut n = name.to_string();
        for (re, to) in to_module().to_regex_pairs() {
            if re.is_match(&n) {
                n = re.replace_all(&n, to.as_str()).into_owned();
            }
        }
        n
    }

    #[test]
    fn names_map_both_ways() {
        for (hf, burn) in [
            (
                "encoder.encoder.layer.11.attention.attention.query.weight",
                "encoder.layers.11.attn.query.weight",
            ),
            ("encoder.embeddings.cls_token", "encoder.cls_token"),
            (
                "decoder.model.decoder.layers.1.fc2.bias",
                "decoder.layers.1.mlp.fc2.bias",
            ),
            (
                "decoder.model.decoder.embed_tokens.weight",
                "decoder.embed_tokens",
            ),
            ("decoder.output_projection.weight", OUTPUT_PROJECTION),
        ] {
            assert_eq!(forward(hf), burn);
            assert_eq!(to_checkpoint(burn), hf);
        }
        assert_eq!(
            forward("decoder.model.decoder.layers.0.self_attn_layer_norm.weight"),
            "decoder.layers.0.self_norm.gamma"
        );
        assert_eq!(to_checkpoint("encoder.norm.beta"), "encoder.layernorm.bias");
        // Whole-name entries do not rename longer names.
        assert_eq!(
            forward("decoder.model.decoder.embed_positions._float_tensor"),
            "decoder.model.decoder.embed_positions._float_tensor"
        );
    }
}
