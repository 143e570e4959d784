// A minimal test runner (no JUnit on this machine): each test is a named function; failures
// are collected; the last line is "N passed, N failed" and the exit code is 1 on any failure.
package dev.burgee.mobile.test

import java.io.File

class AssertionFailed(message: String) : Exception(message)

fun check(cond: Boolean, message: () -> String) {
    if (!cond) throw AssertionFailed(message())
}

fun <T> checkEq(expected: T, actual: T, what: String) {
    if (expected != actual) throw AssertionFailed("$what: expected <$expected>, got <$actual>")
}

/** Runs `block`, expecting a `T`; returns it. */
inline fun <reified T : Throwable> expectThrows(what: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionFailed("$what: expected ${T::class.simpleName}, got $e")
    }
    throw AssertionFailed("$what: expected ${T::class.simpleName}, nothing was thrown")
}

/** Polls `f` every 10 ms until true or `timeoutMs`; returns whether it became true. */
fun waitFor(timeoutMs: Long, f: () -> Boolean): Boolean {
    val deadline = System.currentTimeMillis() + timeoutMs
    while (System.currentTimeMillis() < deadline) {
        if (f()) return true
        Thread.sleep(10)
    }
    return f()
}

/** The repository root: $BURGEE_REPO, else the working directory. */
val REPO: File = File(System.getenv("BURGEE_REPO") ?: ".").absoluteFile
val VECTORS = File(REPO, "spec/vectors")

fun tmpDir(prefix: String): File = kotlin.io.path.createTempDirectory("burgee-mobile-$prefix").toFile()

/** A signed envelope and the public key (base64) that verifies it. */
data class Fixture(val envelope: String, val publicKey: String)

/**
 * The vectors' valid snapshot (version 5, one flag `new-checkout`) re-signed by a fresh key with
 * `burgee keygen` + `burgee sign` (BURGEE_BIN), issued an hour ago and expiring in a day, so a
 * client that reads the wall clock accepts it on any date.
 */
fun freshEnvelope(): Fixture {
    val bin = System.getenv("BURGEE_BIN")
    check(bin != null && File(bin).exists()) { "BURGEE_BIN must name the burgee binary, got $bin" }
    val dir = tmpDir("fixture")
    fun run(vararg args: String) {
        val p = ProcessBuilder(bin, *args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "burgee ${args.joinToString(" ")}: $out" }
    }
    val valid = obj(Json.parse(File(VECTORS, "envelopes/valid.json").readText()))
    val now = System.currentTimeMillis()
    val payload = String(java.util.Base64.getDecoder().decode(valid["payload"] as String))
        .replace(Regex("\"issued_at\":\\d+"), "\"issued_at\":${now - 3_600_000}")
        .replace(Regex("\"expires_at\":\\d+"), "\"expires_at\":${now + 86_400_000}")
    File(dir, "payload.json").writeText(payload)
    run("keygen", "--out", dir.path, "--name", "production")
    run("sign", "--key", File(dir, "production.key").path, "--payload", File(dir, "payload.json").path,
        "--out", File(dir, "envelope.json").path)
    return Fixture(File(dir, "envelope.json").readText(), File(dir, "production.pub").readText().trim())
}

class Suite {
    val tests = ArrayList<Pair<String, () -> Unit>>()
    fun test(name: String, body: () -> Unit) { tests.add(name to body) }
}

fun main(args: Array<String>) {
    if (args.firstOrNull() == "--bench") {
        bench()
        return
    }
    val suite = Suite()
    vectorTests(suite)
    apiTests(suite)
    serverTests(suite)
    val only = args.firstOrNull()
    var passed = 0
    var failed = 0
    for ((name, body) in suite.tests) {
        if (only != null && !name.contains(only)) continue
        val start = System.nanoTime()
        try {
            body()
            passed++
            println("ok - $name (${(System.nanoTime() - start) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failed++
            println("FAIL - $name: $e")
            if (e !is AssertionFailed) e.printStackTrace(System.out)
        }
    }
    println("$passed passed, $failed failed")
    System.out.flush()
    kotlin.system.exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
