// The Kotlin surface without a server: error mapping, contexts, configuration errors.
package dev.burgee.mobile.test

import dev.burgee.mobile.*
import java.io.File
import kotlin.reflect.KClass

/** The exception class of each code: a `when` over the enum, so a new code fails to compile. */
fun exceptionClass(code: ErrorCode): KClass<out BurgeeException> = when (code) {
    ErrorCode.PARSE_ERROR -> BurgeeException.ParseException::class
    ErrorCode.SNAPSHOT_TOO_LARGE -> BurgeeException.SnapshotTooLarge::class
    ErrorCode.SIGNATURE_INVALID -> BurgeeException.SignatureInvalid::class
    ErrorCode.KEY_UNTRUSTED -> BurgeeException.KeyUntrusted::class
    ErrorCode.PAYLOAD_TYPE_MISMATCH -> BurgeeException.PayloadTypeMismatch::class
    ErrorCode.PROJECT_MISMATCH -> BurgeeException.ProjectMismatch::class
    ErrorCode.ENVIRONMENT_MISMATCH -> BurgeeException.EnvironmentMismatch::class
    ErrorCode.AUDIENCE_MISMATCH -> BurgeeException.AudienceMismatch::class
    ErrorCode.SERVICE_MISMATCH -> BurgeeException.ServiceMismatch::class
    ErrorCode.SNAPSHOT_ROLLBACK -> BurgeeException.SnapshotRollback::class
    ErrorCode.SNAPSHOT_EXPIRED -> BurgeeException.SnapshotExpired::class
    ErrorCode.SNAPSHOT_INVALID -> BurgeeException.SnapshotInvalid::class
    ErrorCode.FLAG_NOT_FOUND -> BurgeeException.FlagNotFound::class
    ErrorCode.TYPE_MISMATCH -> BurgeeException.TypeMismatch::class
    ErrorCode.TARGETING_KEY_MISSING -> BurgeeException.TargetingKeyMissing::class
    ErrorCode.INVALID_CONTEXT -> BurgeeException.InvalidContext::class
    ErrorCode.GENERAL -> BurgeeException.General::class
}

const val KEY = "QMvzGog3kziTcvMKHeMu2vb6s6p4InMxi76iHQbMKew=" // the vectors' production key (spec/vectors/envelopes/make_fixtures.py)

fun config(dir: File, vararg keys: String = arrayOf(KEY)) =
    ClientConfig(environment = "production", trustedKeys = keys.toList(), storageDir = dir.path)

fun apiTests(s: Suite) {
    s.test("every stable code maps to its own exception, code() and string") {
        val codes = errorCodes()
        checkEq(ErrorCode.entries.toList(), codes, "errorCodes() against the enum")
        checkEq(17, codes.size, "number of codes")
        for (code in codes) {
            checkEq(code.name, errorCodeName(code), "stable string of $code")
            val e = expectThrows<BurgeeException>("$code") { throwForCode(code, "what is wrong") }
            check(exceptionClass(code).isInstance(e)) { "$code raised ${e::class}" }
            checkEq(code, e.code(), "code()")
            checkEq("${code.name}: what is wrong", e.toString(), "toString()")
        }
        checkEq(codes.size, codes.map { exceptionClass(it) }.toSet().size, "distinct classes")
        for (r in Reason.entries) checkEq(r.name, reasonName(r), "reason $r")
        // The OpenFeature mapping is the core's, the same for every SDK.
        val openFeature = setOf("PARSE_ERROR", "FLAG_NOT_FOUND", "TYPE_MISMATCH", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL")
        for (code in codes) {
            val of = openfeatureErrorCode(code)
            check(of in openFeature) { "$code maps to $of" }
            if (code.name in openFeature) checkEq(code.name, of, "OpenFeature's own code $code")
        }
    }

    s.test("option defaults are the core's table") {
        val d = defaults()
        checkEq(500uL, d.backoffBaseMs, "backoffBaseMs")
        checkEq(30_000uL, d.backoffCapMs, "backoffCapMs")
        checkEq(30_000uL, d.pollIntervalMs, "pollIntervalMs")
        checkEq(8uL * 1024uL * 1024uL, d.maxEnvelopeBytes, "maxEnvelopeBytes")
        checkEq(null, config(File(".")).pollIntervalMs, "an absent option takes the default")
    }

    s.test("contexts: both constructors, and bad ones name what is wrong") {
        val a = EvaluationContext.fromJson("""{"targetingKey":"u1","country":"DE","age":31,"groups":["a","b"],"beta":true}""")
        val b = EvaluationContext("u1", mapOf(
            "country" to AttributeValue.String("DE"), "age" to AttributeValue.Number(31.0),
            "groups" to AttributeValue.StringList(listOf("a", "b")), "beta" to AttributeValue.Boolean(true)))
        checkEq("u1", a.targetingKey(), "targeting key")
        check(Json.eq(Json.parse(a.toJson()), Json.parse(b.toJson()))) { "${a.toJson()} != ${b.toJson()}" }
        checkEq(null, EvaluationContext(null).targetingKey(), "anonymous")
        for ((json, needle) in listOf(
            "[1]" to "object", "{\"a\": null}" to "\"a\"", "{\"a\": {\"b\": 1}}" to "\"a\"",
            "{\"targetingKey\": 5}" to "targetingKey", "{\"l\": [1]}" to "\"l\"", "{" to "JSON",
        )) {
            val e = expectThrows<BurgeeException.InvalidContext>(json) { EvaluationContext.fromJson(json) }
            check(e.detail.contains(needle)) { "$json: \"${e.detail}\" lacks $needle" }
        }
        val nan = expectThrows<BurgeeException.InvalidContext>("NaN") {
            EvaluationContext("u", mapOf("score" to AttributeValue.Number(Double.NaN)))
        }
        check(nan.detail.contains("\"score\"")) { nan.detail }
        expectThrows<BurgeeException.InvalidContext>("targetingKey attribute") {
            EvaluationContext("u", mapOf("targetingKey" to AttributeValue.String("v")))
        }
    }

    s.test("configuration errors are thrown with their code, naming what is wrong") {
        val dir = tmpDir("config")
        checkEq(ErrorCode.GENERAL, expectThrows<BurgeeException>("no keys") { BurgeeClient(config(dir, *arrayOf())) }.code(), "no key")
        val bad = expectThrows<BurgeeException.ParseException>("bad key") { BurgeeClient(config(dir, KEY, "not a key")) }
        check(bad.detail.contains("trusted key 1")) { bad.detail }
        val noSdk = expectThrows<BurgeeException.General>("url without key") {
            BurgeeClient(config(dir).copy(serverUrl = "http://127.0.0.1:9"))
        }
        check(noSdk.detail.contains("sdkKey")) { noSdk.detail }
        expectThrows<BurgeeException.General>("empty storageDir") { BurgeeClient(config(dir).copy(storageDir = "")) }
        val file = File(dir, "a-file").apply { writeText("x") }
        val e = expectThrows<BurgeeException.General>("storageDir under a file") {
            BurgeeClient(config(File(file, "sub")))
        }
        check(e.detail.contains("a-file")) { e.detail }
        BurgeeClient(config(dir)).use { c ->
            val s = expectThrows<BurgeeException.General>("start offline-only") { c.start() }
            check(s.detail.contains("serverUrl")) { s.detail }
            expectThrows<BurgeeException.General>("track offline-only") { c.track("buy", "u1") }
        }
    }

    s.test("the persisted file stays inside storageDir whatever the environment is called") {
        checkEq("/data/app/burgee-production.envelope.json", persistedSnapshotPath("/data/app", "production"), "plain")
        checkEq("/data/app/burgee-%2E%2E%2Fx%20y.envelope.json", persistedSnapshotPath("/data/app", "../x y"), "escaped")
    }

    s.test("no snapshot: every getter serves the default with GENERAL, nothing throws") {
        BurgeeClient(config(tmpDir("empty"))).use { c ->
            checkEq(SyncStatus.NOT_READY, c.status().status, "status")
            checkEq(null, c.snapshot(), "snapshot")
            checkEq(true, c.getBooleanValue("f", true), "boolean")
            checkEq("d", c.getStringValue("f", "d"), "string")
            checkEq(7L, c.getIntegerValue("f", 7L), "integer")
            checkEq(1.5, c.getDoubleValue("f", 1.5), "double")
            checkEq("""{"a":1}""", c.getObjectValue("f", """{"a":1}"""), "object")
            val d = c.getBooleanDetails("f", false, EvaluationContext("u1"))
            checkEq(Reason.ERROR, d.reason, "reason")
            checkEq(ErrorCode.GENERAL, d.errorCode, "code")
            check(d.errorMessage!!.contains("NOT_READY")) { d.errorMessage!! }
            checkEq(SyncStatus.NOT_READY, c.waitUntilReady(50uL), "wait times out")
        }
    }

    s.test("bundled envelope: an offline client evaluates at once and persists nothing it was not sent") {
        // The vectors' valid snapshot, re-signed to expire a day from now, as the app's bundled snapshot.
        val (envelope, publicKey) = freshEnvelope()
        val dir = tmpDir("bundled")
        BurgeeClient(config(dir, publicKey).copy(bootstrapEnvelope = envelope)).use { c ->
            checkEq(SyncStatus.READY, c.status().status, "status")
            checkEq(false, c.status().started, "started")
            checkEq(5uL, c.snapshot()!!.info().version, "version")
            check(c.snapshot()!!.flagKeys().isNotEmpty()) { "no flags" }
        }
        check(!File(persistedSnapshotPath(dir.path, "production")).exists()) { "the bundled envelope was persisted" }
        // Signed by a key not trusted (the fixture is signed by a fresh key, not the vectors'):
        // refused (recorded as the last error; a local copy leaves the status as it was),
        // nothing held.
        BurgeeClient(config(dir, KEY).copy(bootstrapEnvelope = envelope)).use { c ->
            val st = c.status()
            checkEq(SyncStatus.NOT_READY, st.status, "status with another key")
            checkEq(ErrorCode.KEY_UNTRUSTED, st.lastErrorCode, "code with another key")
            checkEq(null, c.snapshot(), "snapshot with another key")
        }
        // Everything signed is checked: the project configured, and the audience the key
        // implies (a client-side key reads client snapshots; this one is a server snapshot).
        for ((cfg, code) in listOf(
            config(dir, publicKey).copy(project = "other-project") to ErrorCode.PROJECT_MISMATCH,
            config(dir, publicKey).copy(project = "fixtures", sdkKey = "bgc_app-key") to ErrorCode.AUDIENCE_MISMATCH,
        )) {
            BurgeeClient(cfg.copy(bootstrapEnvelope = envelope)).use { c ->
                checkEq(code, c.status().lastErrorCode, "last error of $cfg")
                checkEq(null, c.snapshot(), "snapshot held by $cfg")
            }
        }
        BurgeeClient(config(dir, publicKey).copy(project = "fixtures", bootstrapEnvelope = envelope)).use { c ->
            checkEq(SyncStatus.READY, c.status().status, "the configured project")
        }
        val load = { o: LoadOptions -> Snapshot.load(envelope, o) }
        val opts = LoadOptions(listOf(publicKey), "production")
        checkEq("fixtures", load(opts.copy(project = "fixtures", audience = Audience.SERVER)).info().project, "load with project")
        checkEq(ErrorCode.PROJECT_MISMATCH, expectThrows<BurgeeException.ProjectMismatch>("load, other project") {
            load(opts.copy(project = "other-project"))
        }.code(), "load, other project")
        checkEq(ErrorCode.AUDIENCE_MISMATCH, expectThrows<BurgeeException.AudienceMismatch>("load as a client") {
            load(opts.copy(audience = Audience.CLIENT))
        }.code(), "load as a client")
        // Object defaults must be JSON objects.
        val d = Snapshot.load(envelope, LoadOptions(listOf(publicKey), "production"))
            .getObjectDetails("any", "[1]", null, nowMs())
        checkEq(ErrorCode.TYPE_MISMATCH, d.errorCode, "non-object default")
        checkEq("[1]", d.value, "default served back")
    }
}
