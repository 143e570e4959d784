// The mobile client against real `burgee serve --demo` processes (BURGEE_BIN): sync, an update
// after a flag change, exposures, and offline restarts from the persisted snapshot.
package dev.burgee.mobile.test

import dev.burgee.mobile.*
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.Base64
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit

/**
 * A running `burgee serve --demo`, started with `--ready-file` and known by that JSON file (URL,
 * the first start's credentials, public keys), never by its output; [kill] at the end (a JVM
 * shutdown hook kills whatever a test left running).
 */
class Server(val dataDir: File, listen: String = "127.0.0.1:0") {
    val proc: Process
    val ready: Map<String, Any?>
    val base: String
    val sdkKey: String
    /** The client-side key (`bgc_`): what an app on users' devices ships (the client snapshot). */
    val clientKey: String
    val admin: String
    val publicKey: String
    private val http = HttpClient.newHttpClient()

    init {
        val bin = System.getenv("BURGEE_BIN")
        check(bin != null && File(bin).exists()) { "BURGEE_BIN must name the burgee binary, got $bin" }
        val readyFile = File(dataDir, "ready.json")
        readyFile.delete()
        val pb = ProcessBuilder(bin, "serve", "--demo", "--listen", listen, "--data-dir", dataDir.path,
            "--ready-file", readyFile.path)
        pb.environment().apply {
            listOf("BURGEE_LISTEN", "BURGEE_DATA_DIR", "BURGEE_DATABASE_URL", "BURGEE_NATS_URL", "BURGEE_READY_FILE")
                .forEach { remove(it) }
        }
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
        proc = pb.start()
        running.add(proc)
        // Written atomically (renamed into place): present means complete.
        val deadline = System.nanoTime() + START_TIMEOUT_MS * 1_000_000
        while (!readyFile.exists()) {
            if (!proc.isAlive) throw AssertionFailed("burgee serve exited before it was ready: ${proc.exitValue()}")
            if (System.nanoTime() > deadline) {
                kill()
                throw AssertionFailed("burgee serve wrote no ready file within $START_TIMEOUT_MS ms")
            }
            Thread.sleep(20)
        }
        ready = obj(Json.parse(readyFile.readText()))
        base = ready["url"] as String
        fun production(field: String) = obj(ready[field])["production"] as String
        sdkKey = production("sdk_keys")
        clientKey = production("client_keys")
        admin = ready["admin_token"] as String
        publicKey = production("public_keys")
    }

    companion object {
        const val START_TIMEOUT_MS = 60_000L
        private val running = java.util.concurrent.ConcurrentHashMap.newKeySet<Process>()

        init {
            Runtime.getRuntime().addShutdownHook(Thread { running.forEach { it.destroyForcibly() } })
        }
    }

    val addr get() = base.removePrefix("http://")

    /** SIGKILL (a crash). */
    fun kill() {
        proc.destroyForcibly()
        proc.waitFor(10, TimeUnit.SECONDS)
        running.remove(proc)
    }

    private fun send(req: HttpRequest.Builder): Pair<Int, String> =
        http.send(req.header("Authorization", "Bearer $admin").build(), HttpResponse.BodyHandlers.ofString())
            .let { it.statusCode() to it.body() }

    /** Sets production's default serve of `flag` through the authoring API; returns the version published. */
    fun setDefault(flag: String, variant: String): ULong {
        val url = URI("$base/v1/projects/webshop/environments/production/flags/$flag")
        val (status, body) = send(HttpRequest.newBuilder(url).GET())
        checkEq(200, status, "GET $flag")
        val t = LinkedHashMap(obj(Json.parse(body)))
        t["default"] = mapOf("variant" to variant)
        t.remove("revision"); t.remove("updated_at")
        val (st, answer) = send(HttpRequest.newBuilder(url).header("Content-Type", "application/json")
            .header("If-Match", "*").PUT(HttpRequest.BodyPublishers.ofString(Json.write(t))))
        check(st == 200) { "PUT $flag: $st $answer" }
        val published = obj((obj(Json.parse(answer))["published"] as List<*>)[0])
        return (published["version"] as Number).toLong().toULong()
    }

    /** The newest stored events. */
    fun recentEvents(): List<Map<String, Any?>> {
        val (status, body) = send(HttpRequest.newBuilder(
            URI("$base/v1/projects/webshop/environments/production/events/recent?limit=1000")).GET())
        checkEq(200, status, "recent events")
        return (Json.parse(body) as List<*>).map(::obj)
    }

    fun config(storage: File) = ClientConfig(
        environment = "production", project = "webshop", trustedKeys = listOf(publicKey), storageDir = storage.path,
        serverUrl = base, sdkKey = sdkKey, backoffBaseMs = 50uL, backoffCapMs = 400uL, requestTimeoutMs = 2000uL,
    )
}

/** Records listener calls. */
class Recorder : ClientListener {
    val statuses = CopyOnWriteArrayList<Pair<SyncStatus, ErrorCode?>>()
    val changes = CopyOnWriteArrayList<Pair<ULong?, ULong>>()
    override fun onStatus(status: SyncStatus, errorCode: ErrorCode?, message: String?) { statuses.add(status to errorCode) }
    override fun onChange(oldVersion: ULong?, newVersion: ULong) { changes.add(oldVersion to newVersion) }
}

fun version(c: BurgeeClient): ULong = c.snapshot()?.info()?.version ?: 0uL

/** A user the demo's 20 % checkout-redesign rollout leaves off. */
fun userOff(c: BurgeeClient): String = (0 until 500).map { "user-$it" }.first {
    c.getBooleanDetails("checkout-redesign", true, EvaluationContext(it)).variant == "off"
}

fun serverTests(s: Suite) {
    s.test("server: sync, a flag change arrives by SSE with a change callback, exposures and track delivered") {
        val server = Server(tmpDir("server"))
        try {
            BurgeeClient(server.config(tmpDir("storage")).copy(flushIntervalMs = 60_000uL)).use { c ->
                val rec = Recorder()
                c.addListener(rec)
                checkEq(SyncStatus.NOT_READY, c.status().status, "before start")
                val early = expectThrows<BurgeeException.General>("track before start") { c.track("purchase", "alice") }
                check(early.detail.contains("started")) { early.detail }
                c.start()
                c.start() // idempotent
                checkEq(SyncStatus.READY, c.waitUntilReady(10_000uL), "ready")
                check(c.status().started) { "not started" }
                val v1 = version(c)
                val user = userOff(c)
                val ctx = EvaluationContext(user, mapOf("country" to AttributeValue.String("DE")))
                checkEq(false, c.getBooleanValue("checkout-redesign", true, ctx), "before the change")
                Thread.sleep(300) // the stream connects
                val published = server.setDefault("checkout-redesign", "on")
                check(waitFor(2_000) { version(c) == published }) { "version $published not seen in 2 s (${version(c)})" }
                checkEq(true, c.getBooleanValue("checkout-redesign", false, ctx), "after the change")
                check(waitFor(1_000) { rec.changes.contains(v1 to published) }) { "changes ${rec.changes}" }
                check(rec.statuses.any { it.first == SyncStatus.READY }) { "statuses ${rec.statuses}" }

                // Exposures (deduplicated per unit) and a track event reach the server.
                for (round in 0 until 2) for (u in listOf("alice", "bob", "carol")) {
                    c.getStringValue("pricing-experiment", "control", EvaluationContext(u, mapOf("country" to AttributeValue.String("DE"))))
                }
                c.track("purchase", "alice", 59.9, mapOf("currency" to ScalarValue.String("EUR")))
                check(c.flush(5_000uL)) { "flush: ${c.eventStats()}" }
                val recent = server.recentEvents()
                val exposures = recent.filter { it["kind"] == "exposure" && it["flag"] == "pricing-experiment" }
                checkEq(3, exposures.size, "exposures in $recent")
                val digest = c.snapshot()!!.info().digest
                for (e in exposures) {
                    checkEq(digest, e["snapshot_digest"], "exposure digest")
                    checkEq("burgee-mobile", e["sdk"], "exposure sdk")
                }
                val tracks = recent.filter { it["kind"] == "track" }
                checkEq(1, tracks.size, "track events")
                check(Json.eq(listOf("purchase", 59.9, mapOf("currency" to "EUR")),
                    listOf(tracks[0]["key"], tracks[0]["value"], tracks[0]["attributes"]))) { "track ${tracks[0]}" }
                check(c.eventStats().deduplicated >= 3uL) { "stats ${c.eventStats()}" }

                // Stopped: no more updates, evaluation goes on; started again: caught up.
                c.stop()
                check(!c.status().started) { "still started" }
                val v2 = server.setDefault("checkout-redesign", "off")
                Thread.sleep(500)
                checkEq(published, version(c), "stopped client took an update")
                checkEq(true, c.getBooleanValue("checkout-redesign", false, ctx), "stopped client evaluates")
                c.start()
                check(waitFor(5_000) { version(c) == v2 }) { "restarted client did not catch up to $v2" }
                checkEq(false, c.getBooleanValue("checkout-redesign", true, ctx), "after restart")
            }
        } finally {
            server.kill()
        }
    }

    s.test("offline restart: persisted snapshot re-verified without network; tampered file refused; bundled envelope") {
        val dir = tmpDir("restart")
        val storage = File(dir, "app-files")
        val server = Server(File(dir, "data"))
        // A mobile app ships the client-side key: it syncs the client snapshot (no server-only flags).
        val cfg = server.config(storage).copy(sdkKey = server.clientKey)
        val (user, published) = try {
            BurgeeClient(cfg).use { c ->
                c.start()
                checkEq(SyncStatus.READY, c.waitUntilReady(10_000uL), "ready")
                val keys = c.snapshot()!!.flagKeys()
                check("checkout-redesign" in keys && "payments-kill-switch" !in keys) { "client snapshot flags: $keys" }
                val user = userOff(c)
                val published = server.setDefault("checkout-redesign", "on")
                check(waitFor(5_000) { version(c) == published }) { "update not seen" }
                user to published
            }
        } finally {
            server.kill() // no network from here on
        }
        val envelope = File(persistedSnapshotPath(storage.path, "production")).readText()

        // A new app process: same storage dir, server gone. Evaluates before and after start().
        BurgeeClient(cfg).use { c ->
            val st = c.status()
            checkEq(SyncStatus.READY, st.status, "offline status")
            checkEq(published, version(c), "persisted version")
            checkEq(true, c.getBooleanValue("checkout-redesign", false, EvaluationContext(user)), "offline evaluation")
            val d = c.getBooleanDetails("checkout-redesign", false, EvaluationContext(user))
            checkEq(null, d.errorCode, "offline details")
            c.start()
            check(waitFor(5_000) { c.status().status == SyncStatus.STALE }) { "not STALE: ${c.status()}" }
            checkEq(true, c.getBooleanValue("checkout-redesign", false, EvaluationContext(user)), "stale evaluation")
        }

        // A tampered persisted file (payload changed, signature kept) is refused on launch.
        val persisted = File(persistedSnapshotPath(storage.path, "production"))
        val env = LinkedHashMap(obj(Json.parse(envelope)))
        val payload = String(Base64.getDecoder().decode(env["payload"] as String))
        val forged = payload.replace("\"variant\":\"on\"", "\"variant\":\"off\"")
        check(forged != payload) { "nothing to tamper with" }
        env["payload"] = Base64.getEncoder().encodeToString(forged.toByteArray())
        persisted.writeText(Json.write(env))
        BurgeeClient(cfg).use { c ->
            val st = c.status()
            checkEq(SyncStatus.NOT_READY, st.status, "tampered status")
            checkEq(ErrorCode.SIGNATURE_INVALID, st.lastErrorCode, "tampered code")
            checkEq(null, c.snapshot(), "tampered snapshot held")
            val d = c.getBooleanDetails("checkout-redesign", false, EvaluationContext(user))
            checkEq(false, d.value, "default served")
            checkEq(ErrorCode.GENERAL, d.errorCode, "not-ready code")
            check(d.errorMessage!!.contains("does not verify")) { "message: ${d.errorMessage}" }
        }

        // First launch of a fresh install with the envelope bundled: evaluates without network;
        // a tampered persisted file next to it does not stop the bundled one.
        BurgeeClient(cfg.copy(bootstrapEnvelope = envelope)).use { c ->
            checkEq(SyncStatus.READY, c.status().status, "bundled status")
            checkEq(published, version(c), "bundled version")
            checkEq(true, c.getBooleanValue("checkout-redesign", false, EvaluationContext(user)), "bundled evaluation")
        }
        BurgeeClient(cfg.copy(storageDir = File(dir, "fresh-install").path, bootstrapEnvelope = envelope)).use { c ->
            checkEq(published, version(c), "fresh install from the bundled envelope")
        }
        // The same bundled client snapshot for another project, or in a client with an SDK key
        // (server snapshots only): refused, nothing held.
        val other = File(dir, "other-install").path
        BurgeeClient(cfg.copy(storageDir = other, project = "blog", bootstrapEnvelope = envelope)).use { c ->
            checkEq(ErrorCode.PROJECT_MISMATCH, c.status().lastErrorCode, "another project's snapshot")
            checkEq(null, c.snapshot(), "another project's snapshot held")
        }
        BurgeeClient(cfg.copy(storageDir = other, sdkKey = "bgs_server-side", bootstrapEnvelope = envelope)).use { c ->
            checkEq(ErrorCode.AUDIENCE_MISMATCH, c.status().lastErrorCode, "a client snapshot with an SDK key")
            checkEq(null, c.snapshot(), "a client snapshot held by a server-side client")
        }
    }
}
