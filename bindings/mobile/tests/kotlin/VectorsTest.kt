// Every file of spec/vectors/, read in place, through the public Kotlin API (the model is
// bindings/node/test/vectors.test.js).
package dev.burgee.mobile.test

import dev.burgee.mobile.*
import java.io.File

@Suppress("UNCHECKED_CAST")
fun obj(v: Any?): Map<String, Any?> = v as Map<String, Any?>

fun readJson(f: File): Map<String, Any?> = obj(Json.parse(f.readText()))

/** The JSON value of a served flag value. */
fun flagJson(v: FlagValue?): Any? = when (v) {
    null -> null
    is FlagValue.Boolean -> v.value
    is FlagValue.String -> v.value
    is FlagValue.Integer -> v.value
    is FlagValue.Double -> v.value
    is FlagValue.Object -> Json.parse(v.json)
}

fun scalarJson(v: ScalarValue): Any = when (v) {
    is ScalarValue.String -> v.value
    is ScalarValue.Number -> v.value
    is ScalarValue.Boolean -> v.value
}

/** The same context built from typed attributes (the other constructor). */
fun typedContext(json: Map<String, Any?>): EvaluationContext {
    val attrs = HashMap<String, AttributeValue>()
    var key: String? = null
    for ((k, v) in json) {
        if (k == "targetingKey") { key = v as String; continue }
        attrs[k] = when (v) {
            is String -> AttributeValue.String(v)
            is Boolean -> AttributeValue.Boolean(v)
            is Number -> AttributeValue.Number(v.toDouble())
            is List<*> -> AttributeValue.StringList(v.map { it as String })
            else -> throw AssertionFailed("vector context attribute $k=$v has no typed form")
        }
    }
    return EvaluationContext(key, attrs)
}

/** What an evaluation returned, in the vectors' terms. */
data class Observed(
    val value: Any?, val variant: String?, val reason: String, val ruleId: String?,
    val errorCode: String?, val errorMessage: String?, val metadata: Map<String, Any>,
)

fun observe(
    snap: Snapshot, case: Map<String, Any?>, ctx: EvaluationContext, now: ULong,
): Observed {
    val flag = case["flag"] as String
    val default = case["default"]
    fun meta(m: Map<String, ScalarValue>): Map<String, Any> = m.mapValues { scalarJson(it.value) }
    return when (case["get"]) {
        null -> snap.evaluate(flag, ctx, now).let {
            Observed(flagJson(it.value), it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        "boolean" -> snap.getBooleanDetails(flag, default as Boolean, ctx, now).let {
            Observed(it.value, it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        "string" -> snap.getStringDetails(flag, default as String, ctx, now).let {
            Observed(it.value, it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        "integer" -> snap.getIntegerDetails(flag, (default as Number).toLong(), ctx, now).let {
            Observed(it.value, it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        "float" -> snap.getDoubleDetails(flag, (default as Number).toDouble(), ctx, now).let {
            Observed(it.value, it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        "object" -> snap.getObjectDetails(flag, Json.write(default), ctx, now).let {
            Observed(Json.parse(it.value), it.variant, reasonName(it.reason), it.ruleId,
                it.errorCode?.let(::errorCodeName), it.errorMessage, meta(it.flagMetadata))
        }
        else -> throw AssertionFailed("unknown getter ${case["get"]}")
    }
}

fun vectorTests(s: Suite) {
    s.test("evaluation vectors (eval/*.json), JSON and typed contexts") {
        val files = File(VECTORS, "eval").listFiles { f -> f.name.endsWith(".json") }!!.sortedBy { it.name }
        check(files.size >= 7) { "only ${files.size} eval files" }
        var passed = 0
        val failures = ArrayList<String>()
        for (f in files) {
            val doc = readJson(f)
            val snap = Snapshot.fromJson(Json.write(doc["snapshot"]))
            for (c in (doc["cases"] as List<*>).map(::obj)) {
                val now = ((c["now"] ?: doc["now"]) as Number).toLong().toULong()
                val contextJson = obj(c["context"])
                val want = obj(c["expected"])
                for (ctx in listOf(EvaluationContext.fromJson(Json.write(contextJson)), typedContext(contextJson))) {
                    val got = observe(snap, c, ctx, now)
                    var ok = Json.eq(got.value, want["value"]) && got.variant == want["variant"] &&
                        got.reason == want["reason"] && got.ruleId == want["rule_id"] &&
                        got.errorCode == want["error_code"]
                    if (want.containsKey("metadata")) ok = ok && Json.eq(got.metadata, want["metadata"])
                    ok = ok && ((got.errorCode == null) == (got.errorMessage == null))
                    if (ok) passed++ else failures.add("${f.name} / ${c["name"]}: expected $want, got $got")
                }
            }
        }
        checkEq(listOf<String>(), failures, "failures")
        check(passed >= 400) { "only $passed evaluations" }
        println("  $passed evaluations from ${files.size} files")
    }

    s.test("invalid snapshot vectors") {
        val cases = (readJson(File(VECTORS, "invalid-snapshots.json"))["cases"] as List<*>).map(::obj)
        check(cases.size >= 30) { "only ${cases.size} cases" }
        for (c in cases) {
            val text = (c["snapshot_text"] as String?) ?: Json.write(c["snapshot"])
            val e = expectThrows<BurgeeException>(c["name"] as String) { Snapshot.fromJson(text) }
            checkEq(c["error_code"], errorCodeName(e.code()), "${c["name"]}: code")
            val detail = e.toString()
            check(detail.contains(c["message_contains"] as String)) { "${c["name"]}: \"$detail\" lacks \"${c["message_contains"]}\"" }
        }
        println("  ${cases.size} cases")
    }

    s.test("bucketing vectors") {
        val cases = (readJson(File(VECTORS, "bucketing.json"))["cases"] as List<*>).map(::obj)
        check(cases.size >= 30) { "only ${cases.size} cases" }
        for (c in cases) {
            val got = bucket(c["salt"] as String, c["seed"] as String, c["value"] as String)
            checkEq((c["bucket"] as Number).toLong(), got.toLong(), "bucket of $c")
        }
        println("  ${cases.size} cases")
    }

    s.test("envelope vectors (envelopes/manifest.json)") {
        val dir = File(VECTORS, "envelopes")
        val cases = (readJson(File(dir, "manifest.json"))["cases"] as List<*>).map(::obj)
        check(cases.size >= 10) { "only ${cases.size} cases" }
        val seen = HashSet<String>()
        for (c in cases) {
            val file = c["file"] as String
            val envelope = File(dir, file).readText()
            val options = LoadOptions(
                trustedKeys = (c["trusted_keys"] as List<*>).map { it as String },
                environment = c["environment"] as String,
                project = c["project"] as String?,
                audience = (c["audience"] as String?)?.let { a -> Audience.entries.single { it.name.lowercase() == a } },
                nowMs = (c["now"] as Number).toLong().toULong(),
                heldVersion = (c["held_version"] as Number?)?.toLong()?.toULong(),
                heldDigest = c["held_digest"] as String?,
                maxEnvelopeBytes = (c["max_envelope_bytes"] as Number?)?.toLong()?.toULong(),
            )
            val expected = c["expected"] as String
            if (expected == "OK") {
                val info = Snapshot.load(envelope, options).info()
                checkEq((c["version"] as Number).toLong().toULong(), info.version, "$file version")
                checkEq(c["digest"], info.digest, "$file digest")
            } else {
                val e = expectThrows<BurgeeException>(file) { Snapshot.load(envelope, options) }
                checkEq(expected, errorCodeName(e.code()), "$file code ($e)")
            }
            seen.add(expected)
        }
        for (code in listOf("OK", "SIGNATURE_INVALID", "KEY_UNTRUSTED", "SNAPSHOT_ROLLBACK", "SNAPSHOT_EXPIRED",
            "PROJECT_MISMATCH", "ENVIRONMENT_MISMATCH", "AUDIENCE_MISMATCH", "SNAPSHOT_TOO_LARGE", "PARSE_ERROR",
            "PAYLOAD_TYPE_MISMATCH")) {
            check(code in seen) { "no fixture expects $code" }
        }
        println("  ${cases.size} cases")
    }
}
