export { Telegram, TelegramBot, TelegramChannel, allowlistProblems, telegramPrincipal, telegramRoutes, WEBHOOK_PATH, type TelegramSettings } from './telegram/index.js';
